"""``python -m shoptrack`` is the ``shoptrack`` command."""

from shoptrack.cli import main

main()
