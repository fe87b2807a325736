"""The pipeline: intake (the group-commit writer), processing, and the workers that run it."""
