"""SQL shared by both targets: table definitions (``tables``) and their rendering (``render``)."""
