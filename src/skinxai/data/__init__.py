"""Data sets: folder-per-class (fanconic), HAM10000 with masks, grouped splits, duplicate audit."""

from skinxai.data.audit import AuditResult, DuplicatePair, audit_folders, find_near_duplicates
from skinxai.data.folder import FolderDataset, LabelledImage, list_labelled_images
from skinxai.data.ham10000 import HAM10000Dataset, HamRecord, load_mask, read_ham_records
from skinxai.data.paths import list_images, shared_data_dir
from skinxai.data.splits import make_ham_split, read_ham_split, write_ham_split

__all__ = [
    "AuditResult",
    "DuplicatePair",
    "FolderDataset",
    "HAM10000Dataset",
    "HamRecord",
    "LabelledImage",
    "audit_folders",
    "find_near_duplicates",
    "list_images",
    "list_labelled_images",
    "load_mask",
    "make_ham_split",
    "read_ham_records",
    "read_ham_split",
    "shared_data_dir",
    "write_ham_split",
]
