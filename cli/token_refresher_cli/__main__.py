"""``python -m token_refresher_cli`` is the same as the ``token-refresher`` command."""

from token_refresher_cli.app import main

raise SystemExit(main())
