"""Publishers: one per platform, creating posts for the publishing engine (see `base`)."""
