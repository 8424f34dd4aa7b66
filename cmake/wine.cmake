# Running cross-built Windows programs under Wine (included when cross-compiling
# for Windows).  Every program CTest starts goes through scripts/wine-run.sh,
# which uses one Wine prefix inside the build directory, WINEDEBUG=-all, and
# initialises the prefix once (wineboot) for the whole run.
find_program(NETEV_WINE NAMES wine64 wine PATHS /usr/lib/wine /usr/lib64/wine NO_CMAKE_FIND_ROOT_PATH)
find_program(NETEV_WINESERVER NAMES wineserver64 wineserver PATHS /usr/lib/wine /usr/lib64/wine
             NO_CMAKE_FIND_ROOT_PATH)
set(NETEV_WINEPREFIX "${CMAKE_BINARY_DIR}/wineprefix" CACHE PATH "Wine prefix for the tests")

if(NETEV_WINE AND NETEV_WINESERVER)
  set(CMAKE_CROSSCOMPILING_EMULATOR
      "${CMAKE_SOURCE_DIR}/scripts/wine-run.sh;${NETEV_WINE};${NETEV_WINESERVER};${NETEV_WINEPREFIX}")
  message(STATUS "Windows tests run under ${NETEV_WINE} (prefix ${NETEV_WINEPREFIX})")
else()
  message(WARNING "wine64 not found: Windows tests are built but cannot run (scripts/deps.sh installs it)")
endif()
