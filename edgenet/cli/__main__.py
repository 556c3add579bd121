"""``python -m edgenet.cli`` is the ``edgenet`` command."""

from edgenet.cli.main import main

main()
