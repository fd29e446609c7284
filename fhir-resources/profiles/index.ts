// The China profiles' public surface, for the validator, the store start-up, mappings and operations.
export * from './lingshu-canonical';
export * from './resident-id';
export { idDocumentNumberProblem, carriesResidentIdNumber } from './id-document-number';
export * from './china-code-tables';
export { nationalities, nationalityAlpha3, type Nationality } from './nationality-codes';
export { divisions, divisionByCode, type Division } from './administrative-division';
export { chinaTerminologyResources, chinaCodeDisplay, chinaCodeSystemTitle, isChinaCodeSystem, CHINA_CODE_SYSTEMS } from './china-terminology';
export { chinaElementIssues, chinaResourceIssues, idDocumentType, type ChinaElement } from './china-profile-rules';
export { patientCompleteness, COMPLETENESS_FIELDS } from './patient-completeness';
