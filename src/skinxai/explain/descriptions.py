"""What explanations mean, in words: one line per method, and a paragraph for a clinician on
how to read a heat map. Used by tooltips, pages, reports and the docs."""

from __future__ import annotations

METHOD_DESCRIPTIONS: dict[str, str] = {
    "cam": "CAM: the classifier's own weights times the last feature map; the logit is this "
    "map's mean, so it shows exactly where the score comes from.",
    "gradcam": "Grad-CAM: feature maps weighted by the average gradient of the class score, "
    "keeping only the positive evidence.",
    "gradcam++": "Grad-CAM++: like Grad-CAM with higher-order gradient weights, which spread "
    "evidence over several instances of an object.",
    "hirescam": "HiResCAM: gradient times activation at every position, summed over channels "
    "(no averaging of gradients, so no smearing between positions).",
    "xgradcam": "XGrad-CAM: Grad-CAM with channel weights normalised by the activations "
    "(axiom-based).",
    "layercam": "LayerCAM: positive gradients times activations per position; sharper maps, "
    "also at earlier layers.",
    "eigencam": "Eigen-CAM: the first principal component of the feature map; class-agnostic "
    "(the same map for both classes).",
    "scorecam": "Score-CAM: each feature map used as a mask on the image, weighted by how much "
    "the masked image raises the class score (slow, no gradients).",
    "guided-backprop": "Guided backpropagation: pixel-level gradient with only positive "
    "signals passed back; sharp edges, weakly class-specific.",
    "guided-gradcam": "Guided Grad-CAM: guided backpropagation multiplied by Grad-CAM; "
    "pixel detail inside the Grad-CAM region.",
}

WHAT_YOU_ARE_LOOKING_AT = (
    "Each figure shows the photo as it was taken, the heat map of one explanation method, and "
    "the two blended. Red marks the regions whose features pushed the network's score "
    "towards the explained class (the predicted one unless another was asked for); blue marks "
    "the regions that contributed least or spoke against it. The scale is relative to each "
    "image, so a red spot says where the evidence is, not how strong it is. A map that lights "
    "up the skin around the lesion, a ruler, ink or a dark border means the network looked at "
    "something other than the lesion: treat that answer with suspicion. Research tool, not a "
    "medical device."
)
