"""``python -m edgenet`` is the ``edgenet`` command."""

from edgenet.cli.main import main

main()
