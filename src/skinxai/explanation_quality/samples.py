"""Images paired with lesion masks: a named set that ships masks, or a folder plus a mask
folder whose files share the images' stems."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch.utils.data import Dataset

from skinxai.data.folder import list_labelled_images
from skinxai.data.masks import find_mask, load_mask
from skinxai.data.paths import list_images, shared_data_dir
from skinxai.data.specs import ham_split_records, resolve_spec
from skinxai.io import ImageInputError, load_image
from skinxai.preprocessing import normalize, to_square_uint8


@dataclass(frozen=True)
class MaskedImage:
    """An image, its class index (None when the set has no labels) and its lesion mask."""

    path: Path
    label: int | None
    mask_path: Path


@dataclass
class MaskedSet:
    """The images that have masks, and those of the set that were left out for lacking one."""

    samples: list[MaskedImage]
    without_mask: list[Path]


def _ham10000(split: str) -> MaskedSet:
    records = ham_split_records(split)
    return MaskedSet([MaskedImage(r.image_path, r.label, r.mask_path) for r in records], [])


def _paired(images: list[tuple[Path, int | None]], masks: Path) -> MaskedSet:
    if not masks.is_dir():
        raise FileNotFoundError(f"mask folder '{masks}' does not exist")
    found, missing = [], []
    for path, label in images:
        mask = find_mask(path, masks)
        if mask is None:
            missing.append(path)
        else:
            found.append(MaskedImage(path, label, mask))
    if not found:
        raise ValueError(f"no image has a mask in '{masks}' (expected files named <stem>.png)")
    return MaskedSet(found, missing)


def masked_set(data: str, masks: str | Path | None = None) -> MaskedSet:
    """The masked images ``data`` names: ``ham10000:SPLIT`` (every image has a mask),
    ``isic2017:SPLIT`` (the images among the 2156 with masks), or any set or folder with
    ``masks`` = a folder of masks whose names match the images' stems."""
    name, _, split = data.partition(":")
    if masks is None and name == "ham10000":
        return _ham10000(split)
    if masks is None and name == "isic2017" and split:
        masks = shared_data_dir() / "isic2017" / "masks"
    if masks is None:
        raise ValueError(f"'{data}' has no lesion masks here; pass --masks DIR")
    folder = Path(data)
    if folder.is_dir() and not all((folder / c).is_dir() for c in ("benign", "malignant")):
        images: list[tuple[Path, int | None]] = [(p, None) for p in list_images(folder)]
    elif folder.is_dir():
        images = [(s.path, s.label) for s in list_labelled_images(folder)]
    else:
        images = [(s.path, s.label) for s in resolve_spec(data)]
    return _paired(images, Path(masks))


class MaskedImages(Dataset):
    """Yields (index, preprocessed input, mask) or (index, error message) for a bad file."""

    def __init__(self, samples: list[MaskedImage], size: int, mean, std) -> None:
        self.samples, self.size, self.mean, self.std = samples, size, mean, std

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple:
        sample = self.samples[index]
        try:
            image = load_image(sample.path)
            mask = load_mask(sample.mask_path, self.size)
        except ImageInputError as exc:
            return (index, str(exc))
        if not mask.any():
            return (index, f"mask '{sample.mask_path}' marks no lesion")
        inputs = normalize(to_square_uint8(image, self.size), self.mean, self.std)
        return (index, inputs, mask)
