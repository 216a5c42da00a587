"""Marshmallow schemas for every payload that crosses a boundary; `post_load` returns plain dataclasses."""
