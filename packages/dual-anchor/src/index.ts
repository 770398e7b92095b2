// @hgm/dual-anchor: The Dual-Anchor anomaly detector (backbone + HGM + GGTR + DSP) and the AnomalyCLIP baseline
