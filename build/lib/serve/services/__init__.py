"""The gRPC servicers: `ValidationEngine` and `CollapseEngine` over the Synthos library."""
