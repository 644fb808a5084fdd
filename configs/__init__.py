"""ml_collections config files (`--config=configs/world.py`)."""
