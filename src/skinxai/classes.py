"""The two diagnostic classes; index 0 is benign and 1 is malignant everywhere in skinxai."""

CLASS_NAMES: tuple[str, str] = ("benign", "malignant")
BENIGN, MALIGNANT = 0, 1

# HAM10000 diagnoses counted as malignant: melanoma, basal cell carcinoma, actinic keratosis /
# intraepithelial carcinoma. The rest (nv, bkl, df, vasc) are benign.
MALIGNANT_DX: frozenset[str] = frozenset({"mel", "bcc", "akiec"})


def class_index(name_or_index: str | int) -> int:
    """Turn a class name ('benign'/'malignant') or index into an index, rejecting anything else."""
    if isinstance(name_or_index, int) and name_or_index in (BENIGN, MALIGNANT):
        return name_or_index
    if isinstance(name_or_index, str) and name_or_index.lower() in CLASS_NAMES:
        return CLASS_NAMES.index(name_or_index.lower())
    raise ValueError(f"unknown class {name_or_index!r}; expected one of {CLASS_NAMES} or 0/1")
