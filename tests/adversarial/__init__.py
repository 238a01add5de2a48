"""The hostile-client suite (issue #14): bounded, loopback only, a legitimate call streaming alongside."""
