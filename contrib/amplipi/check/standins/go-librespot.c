/*
 * Stands in for go-librespot (AmpliPi runs its own armhf/x86_64 build from streams/; Debian has none), for
 * contrib/amplipi/check: `go-librespot --config_dir DIR`. Like go-librespot it needs DIR/config.yml (exit 1 without,
 * as its logrus Fatal on a config it cannot load), opens no audio device until something plays (nothing does here),
 * and exits 0 on SIGTERM or SIGINT; any other fatal signal kills it, as a crash would.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_stop(int signo) { (void)signo; stop = 1; }

int main(int argc, char **argv) {
  const char *dir = NULL;
  for (int i = 1; i + 1 < argc; i++)
    if (strcmp(argv[i], "--config_dir") == 0) dir = argv[i + 1];
  char path[4096];
  snprintf(path, sizeof path, "%s/config.yml", dir ? dir : ".");
  FILE *config = fopen(path, "r");
  if (config == NULL) { fprintf(stderr, "go-librespot stand-in: failed loading config %s\n", path); return 1; }
  fclose(config);
  signal(SIGTERM, on_stop);
  signal(SIGINT, on_stop);
  fprintf(stderr, "go-librespot stand-in: running with %s\n", path);
  while (!stop) pause();
  return 0;
}
