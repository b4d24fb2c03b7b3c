/** `npm run schema`: writes schema/recipe.schema.json from the pass registry (run it after adding or changing a pass). */
import fs from 'node:fs';
import { PASSES } from '../../passes/index.js';
import { recipeSchemaText } from './schema.js';

const target = new URL('../../../schema/recipe.schema.json', import.meta.url);
fs.mkdirSync(new URL('.', target), { recursive: true });
fs.writeFileSync(target, recipeSchemaText(PASSES));
process.stdout.write(`wrote ${target.pathname}\n`);
