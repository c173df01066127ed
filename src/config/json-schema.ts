import { z } from 'zod';
import { configSchema } from './schema.js';

/** The JSON Schema (draft 2020-12) of the config file, generated from the zod schema, for editors. */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return { ...schema, title: 'behalf configuration', $id: 'https://behalf.dev/schema/config.json' };
}
