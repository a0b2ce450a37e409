"""segdebug replay: resend archived events to any endpoint."""
