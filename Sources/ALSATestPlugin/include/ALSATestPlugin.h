// The test plugin exports only alsa-lib's entry point; nothing for Swift.
