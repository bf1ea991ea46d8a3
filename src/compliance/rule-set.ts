export interface ComplianceRuleSet {
  id: string;
  name: string;
  version: number;
  rules: string[];
}
