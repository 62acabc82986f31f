/** KindSpecs shaped like `GET /job-kinds` (api-contract), for the form-logic tests. */
import type { KindSpec, ParamSpec } from './researchApi'

const param = (p: Partial<ParamSpec> & Pick<ParamSpec, 'name' | 'type'>): ParamSpec => ({
  choices: null,
  default: null,
  nullable: false,
  suggested: null,
  help: '',
  group: 'basic',
  ...p,
})

export const SFT: KindSpec = {
  kind: 'sft',
  title: 'SFT',
  description: 'Supervised fine-tuning on demonstrations.',
  inputs: [
    { name: 'model', label: 'Start from model', type: 'model', kinds: ['base', 'sft', 'policy'], required: true, help: '' },
    { name: 'data', label: 'Demonstrations', type: 'snapshot', kinds: ['sft'], required: true, help: '' },
  ],
  params: [
    param({ name: 'max_steps', type: 'integer', default: 200, suggested: 20, nullable: true }),
    param({ name: 'learning_rate', type: 'number', default: 2e-5, suggested: 5e-5 }),
    param({ name: 'packing', type: 'boolean', default: false, suggested: false, group: 'advanced' }),
    param({ name: 'lr_scheduler', type: 'choice', choices: ['linear', 'cosine'], default: 'linear', suggested: 'cosine', group: 'advanced' }),
    param({ name: 'max_length', type: 'choice', choices: [256, 512], default: 512, suggested: 256, group: 'advanced' }),
    param({ name: 'output_name', type: 'string', default: '', suggested: '', group: 'runner' }),
  ],
  notes: '',
}

export const PPO: KindSpec = {
  kind: 'ppo',
  title: 'PPO-ptx',
  description: 'PPO against a reward model.',
  inputs: [
    { name: 'model', label: 'Policy', type: 'model', kinds: ['sft', 'policy'], required: true, help: '' },
    { name: 'reward_model', label: 'Reward model', type: 'model', kinds: ['reward'], required: true, help: '' },
    { name: 'prompts', label: 'Prompts', type: 'snapshot', kinds: ['prompts'], required: true, help: '' },
    { name: 'ptx_data', label: 'Pretraining-mix (SFT) data', type: 'snapshot', kinds: ['sft'], required: false, help: '' },
  ],
  params: [
    param({ name: 'max_steps', type: 'integer', default: 100, suggested: 8 }),
    param({ name: 'kl_coef', type: 'number', default: 0.02, suggested: 0.02 }),
  ],
  notes: '',
}

const simple = (kind: KindSpec['kind'], title: string, params: ParamSpec[]): KindSpec => ({ kind, title, description: '', inputs: [], params, notes: '' })

export const ALL_KINDS: KindSpec[] = [
  SFT,
  simple('reward', 'Reward model', [param({ name: 'max_steps', type: 'integer', default: 100, suggested: 10 })]),
  PPO,
  simple('dpo', 'DPO', [param({ name: 'beta', type: 'number', default: 0.1, suggested: 0.1 })]),
  simple('generate', 'Generate', [
    param({ name: 'num_samples', type: 'integer', default: 4, suggested: 2 }),
    param({ name: 'campaign', type: 'campaign', nullable: true, group: 'runner' }),
  ]),
  simple('evaluate', 'Evaluate', []),
]
