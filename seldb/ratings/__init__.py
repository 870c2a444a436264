"""Human ratings of activation-maximisation images (the paper's Table 1): sheets, imports, studies.

`sheet` writes a blinded rating page with its key and turns raters' answers
into a ratings CSV; `page` is that page's HTML; `from_am` makes the sheet of a
run's stored AM images (`seldb am sheet`); `import_csv` loads ratings into a
run (`seldb import ratings`); `studies` registers a sheet so that raters can
answer it in the browser (`seldb study`, `/rate/<study>` in `seldb serve`).
"""
