"""``skinxai concepts fit``: the seven readers of one model, fitted on derm7pt's
``concept-fit`` side only, on the layer whose readers score better in 5-fold CV there."""

from __future__ import annotations

import numpy as np

from skinxai.concepts.checklist import (
    CRITERIA,
    CRITERION_NAMES,
    presence_matrix,
    read_scored_images,
)
from skinxai.concepts.features import INNER, LAST, read_network
from skinxai.concepts.readers import ConceptReaders, cv_auroc, fit_readers
from skinxai.concepts.split import MANIFEST_NAME, concept_images
from skinxai.model import SkinClassifier


def fit_model_readers(model: SkinClassifier) -> tuple[ConceptReaders, dict]:
    """The readers and a report of how they were chosen (for the model's JSON)."""
    images = concept_images("concept-fit", read_scored_images())
    present = presence_matrix(images)
    readings = read_network(model, [image.path for image in images])
    scores = {layer: cv_auroc(readings.pooled[layer], present) for layer in (LAST, INNER)}
    layer = max(scores, key=lambda name: float(np.mean(scores[name])))
    readers = fit_readers(layer, CRITERION_NAMES, readings.pooled[layer], present)
    report = {
        "fitted_on": f"derm7pt concept-fit ({MANIFEST_NAME})",
        "fit_images": len(images),
        "positives": {name: int(present[:, k].sum()) for k, name in enumerate(CRITERION_NAMES)},
        "fit_cv_auroc": {
            name: {layer_: round(scores[layer_][k], 4) for layer_ in scores}
            for k, name in enumerate(CRITERION_NAMES)
        },
        "points": {criterion.name: criterion.points for criterion in CRITERIA},
        "note": "linear probes fitted on atlas images: a research aid, not a diagnosis",
    }
    return readers, report
