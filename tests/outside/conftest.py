import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))   # outside_phantom, outside_compare helpers
