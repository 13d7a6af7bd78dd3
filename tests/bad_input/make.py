"""Bad files too large or too binary to keep in the repository, written at test time.

Each function takes the folder to write into and returns the path it wrote; a case in a
``cases.toml`` names the function as ``make = "name"``.
"""

