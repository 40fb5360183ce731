"""Curation: named, reusable steps that turn raw math problems into a training set (`python -m openrs.data`)."""
