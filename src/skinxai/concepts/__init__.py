"""The 7-point checklist read from the network: criteria, the derm7pt concept split, linear
concept readers whose maps are CAMs with the readers' weights, and TCAV."""
