#ifndef MONITORD_CALSA_SHIM_H
#define MONITORD_CALSA_SHIM_H
#include <alsa/asoundlib.h>
#endif
