// @hgm/data: Dataset readers, image decoding, preprocessing and seeded synthetic anomalies for anomaly detection
