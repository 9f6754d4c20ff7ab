/* Stands in for a monitord that cannot start with the command line AmpliPi gives it (an older one that does not
 * know an option): it refuses the first option as monitord does, with exit 64 (usage). */
#include <stdio.h>

int main(int argc, char **argv) {
  fprintf(stderr, "monitord: unknown option '%s'\n", argc > 1 ? argv[1] : "");
  return 64;
}
