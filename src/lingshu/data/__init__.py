"""Data tools: turning public releases into the layouts the rest of lingshu reads.

``lingshu.data.prepare`` builds the report-generation test sets (MIMIC-CXR, CheXpert Plus,
IU-Xray) from the datasets' official files (`lingshu data prepare --help`).
"""
