"""Multi-modal data: frame/sequence types, synthetic scenes, dataset readers, bag I/O."""
