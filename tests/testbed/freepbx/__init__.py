"""A real FreePBX 17 test bed (see kit.py and bed.py)."""
