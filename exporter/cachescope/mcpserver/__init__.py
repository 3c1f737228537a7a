"""`cachescope mcp`: the Model Context Protocol server (an optional extra, `cachescope[mcp]`)."""
