"""The Qt-free, torch-free model of a network graph: nodes, edges, groups, commands."""
