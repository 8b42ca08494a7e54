"""kdoctor's built-in check families, registered through the `kdoctor.checks` entry points."""
