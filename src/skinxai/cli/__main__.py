"""``python -m skinxai.cli``: the same as the ``skinxai`` command."""

from skinxai.cli import main

main()
