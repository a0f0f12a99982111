/** Fine-tuning's public surface (re-exported by the package root). */
export { TrainableLlama, type MatrixProducts, type Gradients, type LlamaParams } from './graph.js';
export { BackendBase, loadBackendTrainable } from './backend-base.js';
export { AdamW, clipGradNorm, lrMultiplier, type LrScheduler } from './optim.js';
export { Trainer, loadTrainable, evaluationLoss, type TrainOptions, type TrainSequence, type StepLog } from './trainer.js';
export { loadSftRecords, renderSftExample, buildSftDataset, splitEval, type SftExample, type SftSequence } from './data.js';
export { writeLossFiles, lossCsv, lossPlotPng, type LossPoint } from './plot.js';
export { writeDeepSpeedJob, launchDeepSpeedJob, importTrainedCheckpoint, type DeepSpeedJobOptions } from './deepspeed-job.js';
export { savePeftAdapter, loadPeftAdapter, mergeLora, type LoraAdapter, type LoraConfig, type LoraModule } from '../model/lora.js';
