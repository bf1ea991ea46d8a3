export interface Subject {
  id: string;
  fullName: string;
  updatedAt: Date;
}
