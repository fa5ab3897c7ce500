// Types for the part of @lhncbc/ucum-lhc Kiln uses (the package ships none).
declare module '@lhncbc/ucum-lhc' {
  const ucum: {
    UcumLhcUtils: { getInstance(): { convertToBaseUnits(unit: string, value: number): unknown } };
  };
  export default ucum;
}
