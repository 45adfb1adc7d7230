"""``python -m globalfit.limits`` (the same as ``globalfit limits``)."""
from . import main

raise SystemExit(main())
