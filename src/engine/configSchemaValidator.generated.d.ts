// Types of configSchemaValidator.generated.js (schemas/buildValidator.ts writes it).
import type { ValidateFunction } from 'ajv';

declare const validateConfigSchema: ValidateFunction;
export default validateConfigSchema;
