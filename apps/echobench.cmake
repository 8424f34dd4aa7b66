# echobench: load generator for TCP echo servers (issue 4).  Included from
# apps/CMakeLists.txt; kept apart so that echod's lines there stay its own.
find_package(Threads REQUIRED)
add_executable(echobench echobench.c echobench/config.c echobench/hist.c echobench/report.c echobench/worker.c)
target_link_libraries(echobench netev Threads::Threads m)

if(NETEV_TESTS)
  find_package(Python3 COMPONENTS Interpreter)
  add_executable(t_echobench_hist echobench/t_hist.c echobench/hist.c)
  target_link_libraries(t_echobench_hist netev_testutil)
  add_test(NAME echobench_hist COMMAND t_echobench_hist)
  set_tests_properties(echobench_hist PROPERTIES TIMEOUT 60 LABELS echobench)
  if(Python3_Interpreter_FOUND)
    add_test(NAME echobench_integrity
      COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/echobench/test_echobench.py $<TARGET_FILE:echobench>)
    set_tests_properties(echobench_integrity PROPERTIES TIMEOUT 180 LABELS echobench)
    if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
      # The same client on the portable backend.
      add_test(NAME echobench_integrity_poll
        COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/echobench/test_echobench.py $<TARGET_FILE:echobench>)
      set_tests_properties(echobench_integrity_poll PROPERTIES ENVIRONMENT "NETEV_BACKEND=poll" TIMEOUT 180
                           LABELS echobench)
    endif()
  endif()
endif()

find_program(VALGRIND valgrind)
if(NETEV_TESTS AND Python3_Interpreter_FOUND AND VALGRIND AND NETEV_VALGRIND_TESTS AND NOT NETEV_SANITIZE)
  add_test(NAME valgrind_echobench
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/echobench/test_echobench.py $<TARGET_FILE:echobench>
            --valgrind ${VALGRIND})
  set_tests_properties(valgrind_echobench PROPERTIES TIMEOUT 600 LABELS "echobench;valgrind")
endif()
