"""A plugin that fails on import: edgeinfer must name it in one line and carry on."""

raise ImportError("this plugin needs a library that is not installed")
