# net/console/embed.cmake: turn the web console's files into C arrays (pure CMake, run at
# build time as `cmake -DSRC=<net/console> -DOUT=<file.c> -P embed.cmake`).
#
# Every .html, .js, .css and .svg file of SRC becomes one row of rn_console_assets[]
# (net/http_console.h): name, content type, bytes, ETag. rn_console_version is a hash of
# all of them; "@CONSOLE_VERSION@" in the files is replaced by it, so index.html can ask
# for /console/app.js?v=<hash> and browsers may keep that for good. Nothing else of SRC
# (screenshot.png, this script) is embedded.
if(NOT SRC OR NOT OUT)
  message(FATAL_ERROR "usage: cmake -DSRC=<dir> -DOUT=<file.c> -P embed.cmake")
endif()

file(GLOB files RELATIVE "${SRC}" "${SRC}/*.html" "${SRC}/*.js" "${SRC}/*.css" "${SRC}/*.svg")
list(SORT files)

# The version: a hash over every file's name and hash.
set(all "")
foreach(f IN LISTS files)
  file(SHA256 "${SRC}/${f}" h)
  string(APPEND all "${f}:${h}\n")
endforeach()
string(SHA256 version "${all}")
string(SUBSTRING "${version}" 0 16 version)

# 16 bytes a line: "0x3c,0x21,..."
string(REPEAT "0x[0-9a-f][0-9a-f]," 16 line_re)

set(c "/* Generated from net/console/ by net/console/embed.cmake: do not edit. */\n")
string(APPEND c "#include \"http_console.h\"\n\n")
set(rows "")
set(i 0)
foreach(f IN LISTS files)
  file(READ "${SRC}/${f}" text)
  if(text MATCHES "@CONSOLE_VERSION@")
    string(REPLACE "@CONSOLE_VERSION@" "${version}" text "${text}")
    set(tmp "${OUT}.${f}")
    file(WRITE "${tmp}" "${text}")
    file(READ "${tmp}" hex HEX)
    file(REMOVE "${tmp}")
  else()
    file(READ "${SRC}/${f}" hex HEX)
  endif()
  string(LENGTH "${hex}" hexlen)
  math(EXPR len "${hexlen} / 2")
  string(SHA1 etag "${hex}")
  string(SUBSTRING "${etag}" 0 20 etag)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(REGEX REPLACE "(${line_re})" "\\1\n    " bytes "${bytes}")
  if(len EQUAL 0)
    set(bytes "0x00,")
  endif()
  if(f MATCHES "\\.html$")
    set(type "text/html; charset=utf-8")
  elseif(f MATCHES "\\.js$")
    set(type "text/javascript; charset=utf-8")
  elseif(f MATCHES "\\.css$")
    set(type "text/css; charset=utf-8")
  else()
    set(type "image/svg+xml")
  endif()
  string(APPEND c "/* ${f} */\nstatic const unsigned char file${i}[] = {\n    ${bytes}\n};\n\n")
  string(APPEND rows "    {\"${f}\", \"${type}\", file${i}, ${len}, \"\\\"${etag}\\\"\"},\n")
  math(EXPR i "${i} + 1")
endforeach()
if(i EQUAL 0)
  message(FATAL_ERROR "no console files in ${SRC}")
endif()

string(APPEND c "const rn_console_asset rn_console_assets[] = {\n${rows}};\n")
string(APPEND c "const int rn_console_nassets = ${i};\n")
string(APPEND c "const char rn_console_version[] = \"${version}\";\n")

file(WRITE "${OUT}" "${c}")
