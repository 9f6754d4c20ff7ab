/* The monitordtest ALSA plugin exports only alsa-lib's versioned entry point
 * (_snd_pcm_monitordtest_open); there is nothing here for Swift to call. */
#ifndef MONITORD_ALSA_TEST_PLUGIN_H
#define MONITORD_ALSA_TEST_PLUGIN_H
#endif
