"""Tests of tap_loop.config."""
