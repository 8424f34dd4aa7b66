/* Final report: rates, latency percentiles, connect time, errors. */
#include "report.h"

#include <string.h>

uint64_t eb_summary_errors(const eb_summary *s)
{
    return s->connect_fail + s->mismatch + s->lost + s->timeouts;
}

static const char *mode_name(const eb_config *cfg)
{
    return cfg->mode == EB_IDLE ? "idle" : cfg->mode == EB_RECONNECT ? "reconnect" : "echo";
}

static double per_s(const eb_summary *s, double v)
{
    return s->seconds > 0 ? v / s->seconds : 0;
}

static double us(uint64_t ns)
{
    return (double)ns / 1000.0;
}

/* Microseconds with one decimal below 100, whole above. */
static void print_us(FILE *f, const char *label, uint64_t ns)
{
    double v = us(ns);
    fprintf(f, "  %s %.*f", label, v < 100 ? 1 : 0, v);
}

void eb_report_text(FILE *f, const eb_summary *s)
{
    const eb_config *cfg = s->cfg;
    fprintf(f, "echobench: %s port %d, %d connection%s x %zu B, depth %d, %d thread%s, %s mode", cfg->host,
            cfg->port, cfg->conns, cfg->conns == 1 ? "" : "s", cfg->size, cfg->depth, cfg->threads,
            cfg->threads == 1 ? "" : "s", mode_name(cfg));
    if (cfg->warmup > 0)
        fprintf(f, ", %g s warm-up", cfg->warmup);
    fprintf(f, "%s\n", s->interrupted ? " (interrupted)" : "");
    const char *unit = cfg->mode == EB_RECONNECT ? "connections" : "messages";
    fprintf(f, "  %-12s %llu in %.3f s: %.0f %s/s, %.2f MB/s each way\n", unit, (unsigned long long)s->msgs,
            s->seconds, per_s(s, (double)s->msgs), cfg->mode == EB_RECONNECT ? "conn" : "msgs",
            per_s(s, (double)s->msgs * (double)cfg->size) / 1e6);
    fprintf(f, "  %-12s", "latency us");
    print_us(f, "p50", eb_hist_quantile(&s->lat, 0.50));
    print_us(f, "p90", eb_hist_quantile(&s->lat, 0.90));
    print_us(f, "p99", eb_hist_quantile(&s->lat, 0.99));
    print_us(f, "p99.9", eb_hist_quantile(&s->lat, 0.999));
    print_us(f, "max", s->lat.max);
    fprintf(f, "  (mean %.1f)\n", eb_hist_mean(&s->lat) / 1000.0);
    if (cfg->mode == EB_RECONNECT) /* no connect phase: slots connect inside the window */
        fprintf(f, "  %-12s %llu connects; per connection", "connect", (unsigned long long)s->conn_lat.total);
    else
        fprintf(f, "  %-12s %llu up in %.1f ms; per connection", "connect", (unsigned long long)s->conn_lat.total,
                s->connect_seconds * 1e3);
    print_us(f, "p50", eb_hist_quantile(&s->conn_lat, 0.50));
    print_us(f, "p99", eb_hist_quantile(&s->conn_lat, 0.99));
    print_us(f, "max", s->conn_lat.max);
    fprintf(f, " us\n");
    if (s->msgs) {
        fprintf(f, "  %-12s client %.2f us/%s", "cpu", s->client_cpu * 1e6 / (double)s->msgs,
                cfg->mode == EB_RECONNECT ? "conn" : "msg");
        if (s->server_cpu >= 0)
            fprintf(f, ", server %.2f us/%s (pid %d)", s->server_cpu * 1e6 / (double)s->msgs,
                    cfg->mode == EB_RECONNECT ? "conn" : "msg", cfg->server_pid);
        if (s->server_core >= 0)
            fprintf(f, ", CPU %d busy %.2f us/%s", cfg->server_core, s->server_core * 1e6 / (double)s->msgs,
                    cfg->mode == EB_RECONNECT ? "conn" : "msg");
        fprintf(f, "\n");
    }
    fprintf(f, "  %-12s %llu (connect %llu, mismatch %llu, lost %llu, timeout %llu)\n", "errors",
            (unsigned long long)eb_summary_errors(s), (unsigned long long)s->connect_fail,
            (unsigned long long)s->mismatch, (unsigned long long)s->lost, (unsigned long long)s->timeouts);
}

static void json_string(FILE *f, const char *v)
{
    fputc('"', f);
    for (; *v; v++) {
        unsigned char ch = (unsigned char)*v;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void json_hist(FILE *f, const char *name, const eb_hist *h)
{
    fprintf(f, "\"%s\":{\"count\":%llu,\"mean\":%.1f,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f}",
            name, (unsigned long long)h->total, eb_hist_mean(h) / 1000.0, us(eb_hist_quantile(h, 0.5)),
            us(eb_hist_quantile(h, 0.9)), us(eb_hist_quantile(h, 0.99)), us(eb_hist_quantile(h, 0.999)),
            us(h->max));
}

void eb_report_json(FILE *f, const eb_summary *s)
{
    const eb_config *cfg = s->cfg;
    fprintf(f, "{\"host\":");
    json_string(f, cfg->host);
    fprintf(f, ",\"port\":%d,\"mode\":\"%s\",\"conns\":%d,\"size\":%zu,\"depth\":%d,\"threads\":%d,", cfg->port,
            mode_name(cfg), cfg->conns, cfg->size, cfg->depth, cfg->threads);
    fprintf(f, "\"rate\":%.3f,\"warmup_s\":%.3f,\"seconds\":%.6f,\"messages\":%llu,\"msgs_per_s\":%.1f,"
            "\"mb_per_s\":%.3f,", cfg->rate, cfg->warmup, s->seconds, (unsigned long long)s->msgs,
            per_s(s, (double)s->msgs), per_s(s, (double)s->msgs * (double)cfg->size) / 1e6);
    json_hist(f, "latency_us", &s->lat);
    fprintf(f, ",\"connect_seconds\":%.6f,", s->connect_seconds);
    json_hist(f, "connect_us", &s->conn_lat);
    fprintf(f, ",\"conns_up\":%llu,", (unsigned long long)s->conns_up);
    double per = s->msgs ? 1e6 / (double)s->msgs : 0;
    fprintf(f, "\"client_cpu_s\":%.6f,\"client_cpu_us_per_msg\":%.4f,", s->client_cpu, s->client_cpu * per);
    if (s->server_cpu >= 0)
        fprintf(f, "\"server_pid\":%d,\"server_cpu_s\":%.6f,\"server_cpu_us_per_msg\":%.4f,", cfg->server_pid,
                s->server_cpu, s->server_cpu * per);
    if (s->server_core >= 0)
        fprintf(f, "\"server_core\":%d,\"server_core_s\":%.6f,\"server_core_us_per_msg\":%.4f,", cfg->server_core,
                s->server_core, s->server_core * per);
    fprintf(f, "\"errors\":{\"total\":%llu,\"connect\":%llu,\"mismatch\":%llu,\"lost\":%llu,\"timeout\":%llu},",
            (unsigned long long)eb_summary_errors(s), (unsigned long long)s->connect_fail,
            (unsigned long long)s->mismatch, (unsigned long long)s->lost, (unsigned long long)s->timeouts);
    fprintf(f, "\"interrupted\":%s}\n", s->interrupted ? "true" : "false");
}
