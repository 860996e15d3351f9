# Writes OUT, a C file holding each of the CSV files of DATA_DIR named in NAMES as a NUL-terminated
# char array power_data_<name>_csv (dashes become underscores). Run with cmake -P at build time.
set(body "/* Generated from data/ by collectors/embed-data.cmake: edit the CSV files, not this. */\n")
string(APPEND body "#include \"collectors/power-data.h\"\n")
foreach(name IN LISTS NAMES)
  file(READ "${DATA_DIR}/${name}.csv" hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(MAKE_C_IDENTIFIER "${name}" ident)
  string(APPEND body "const char power_data_${ident}_csv[] = {${bytes}0x00};\n")
endforeach()
file(WRITE "${OUT}.tmp" "${body}")
configure_file("${OUT}.tmp" "${OUT}" COPYONLY)
