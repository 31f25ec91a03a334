"""``python -m ncdc`` runs the command line."""

from ncdc.cli import main

raise SystemExit(main())
