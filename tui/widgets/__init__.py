"""Small reusable pieces: confidence bars, key/BPM badges, the help overlay."""
